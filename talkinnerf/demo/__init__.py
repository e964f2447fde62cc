"""Synthetic talking subjects rendered from the Anny body model (video + ground truth + OpenPose stand-in).

Entry points: :func:`talkinnerf.demo.synthesize.synthesize`, :func:`talkinnerf.demo.contact_sheet.contact_sheet`,
:data:`talkinnerf.demo.subjects.DEFAULT_SUBJECTS`. Heavy imports (torch, anny, moderngl) happen inside functions.
"""
