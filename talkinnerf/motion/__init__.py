"""Motions that drive an avatar: common layouts (AMASS, TalkSHOW, EasyMocap, our fits) converted into our one
motion format (format.py), with the readers (readers.py, easymocap.py), slerp resampling (resample.py) and
the conversion pipeline (convert.py). See docs/motion.md. Import the submodules; this file stays light."""
