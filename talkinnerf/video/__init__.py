"""Video decode (frames + meta.json) and encode (H.264 mp4). Import the submodules: `video.encode`, `video.decode`."""
