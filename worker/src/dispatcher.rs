//! Dispatcher sets: destination selection and health (being written).
