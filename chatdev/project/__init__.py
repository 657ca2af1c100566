"""The project a build writes: the workspace, its paths, the git log, the transcript and its fold."""
