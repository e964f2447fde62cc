"""Preprocessing stages (matte, keypoints, fit, segment, split). Import the submodules; this file stays light."""
