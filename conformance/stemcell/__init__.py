"""The test stemcell: build it from Debian packages (build.py) and read stemcell tarballs
(tarball.py). The guest side, the conformance agent, lives in files/."""
