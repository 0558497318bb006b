//! The command line (SPEC 10): flags with one or two dashes, via pico-args.
