//! The bundled contracts.
