//! The SDK's one door to the host's imports (`http`, `ssh`, `catalog`, `log`): every capability
//! module calls the host through these names and never through the generated bindings directly.
//!
//! In a WebAssembly build they *are* the generated bindings, re-exported: a component is exactly
//! what it was without this module. In a native build the generated import stubs cannot be called
//! (they hit `unreachable!` inside a function that cannot unwind, and the process aborts), so the
//! same names, with the same signatures, answer from the thread's
//! [`TestHost`](crate::testing::TestHost), or with an error saying there is none.

/// `orch:pack/http`.
pub(crate) mod http {
    #[cfg(target_arch = "wasm32")]
    pub(crate) use crate::__private::orch::pack::http::send;
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) use crate::testing::backend::http_send as send;
}

/// `orch:pack/ssh`: the two resources, with the generated types' methods.
pub(crate) mod ssh {
    #[cfg(target_arch = "wasm32")]
    pub(crate) use crate::__private::orch::pack::ssh::{Session, Shell};
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) use crate::testing::backend::{Session, Shell};
}

/// `orch:pack/catalog`.
pub(crate) mod catalog {
    #[cfg(target_arch = "wasm32")]
    pub(crate) use crate::__private::orch::pack::catalog::{find_devices, get, get_device, put};
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) use crate::testing::backend::{
        catalog_find_devices as find_devices, catalog_get as get, catalog_get_device as get_device,
        catalog_put as put,
    };
}

/// `orch:pack/log`.
pub(crate) mod log {
    #[cfg(target_arch = "wasm32")]
    pub(crate) use crate::__private::orch::pack::log::write;
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) use crate::testing::backend::log_write as write;
}
