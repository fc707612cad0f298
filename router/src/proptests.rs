//! Property tests of the assignment rules (in progress).
