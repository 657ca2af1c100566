"""Files of the runner image (``chatdev-runner``): copied into it, never run on the host.

``Dockerfile`` and ``packages.txt`` build the image; ``supervisor.py`` is the process a
sandbox container starts (it waits for the project, runs the steps it is given and
prints one JSON result); ``probe.py`` inspects a project (entry point, GUI toolkit,
tests, pyflakes, missing modules). Both are standard-library Python so the host's
tests can import them too.
"""
