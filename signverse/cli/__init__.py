"""The ``signverse`` command line: thin commands over library functions."""
