//! Typed, lazily parsed views of header values. Each parser takes the value slice of a
//! [`crate::Header`] and returns views into it; none allocates.

pub mod addr;
pub mod auth;
pub mod simple;
pub mod via;

pub use addr::{AddrValues, Contact, ContactValues, NameAddr};
pub use auth::{AuthParams, Credentials, DigestFields};
pub use simple::{CSeq, MediaType, Tokens};
pub use via::{Via, ViaValues};
