"""The precision presets shipped with hepsqueeze, one TOML precision file each (read by
:func:`hepsqueeze.codecs.bounded.precision.preset`)."""
