//! certgpo: distribute certificates to Windows domain clients through Group Policy.
pub mod cert;
pub mod hex;
pub mod pkcs7;
