"""The error-bounded jet codec: E, pt, eta, phi quantised within a bound and entropy coded."""
