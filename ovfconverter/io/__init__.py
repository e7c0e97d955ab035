"""Layer 0, the floor for bytes: byte ranges read in place, sparse files,
deflate back-ends, hashing and the hashing sink every produced file goes
through.  Nothing here knows of OVF, Ganeti or disk image formats."""
