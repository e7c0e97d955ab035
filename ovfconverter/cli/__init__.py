"""Layer 5: the command line (argparse, progress bars, exit codes). Thin: it
turns arguments into library calls and errors into messages."""
