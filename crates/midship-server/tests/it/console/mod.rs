//! The web console: sign-in, the people and account pages, and every area's pages.

mod approvals;
mod browser;
mod device;
mod gateway;
mod pages;
mod people;
mod push;
mod sso;
