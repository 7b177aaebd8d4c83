//! The routing table (being written).
