"""Commands around the build: doctor, bench."""
