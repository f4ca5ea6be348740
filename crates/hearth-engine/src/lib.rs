//! Local inference engine (in progress in this commit).
