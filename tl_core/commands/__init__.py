"""One module per `tl` subcommand; each exposes `add_arguments(parser)` and `main(args) -> int`."""
