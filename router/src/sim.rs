//! Simulation benchmark of routing policies (in progress).
