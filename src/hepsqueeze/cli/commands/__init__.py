"""The commands, grouped by job: data (generate), models (train, zoo), codec (compress, decompress,
info), evaluation (benchmark, evaluate, inspect, studies) and demo. :mod:`hepsqueeze.cli.application`
registers them; each imports what it runs inside its body, so starting one command stays cheap."""
