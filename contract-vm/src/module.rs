//! A contract's module: bytecode loaded and verified once, then shared by every worker.
//!
//! Loading is the expensive, fallible part (parsing, verification, JIT compilation), so it
//! happens once per contract and block; a [`Module`] is an `Arc` inside and costs a
//! reference count to clone. A module that does not load is a [`LoadError`], which the
//! executor turns into a malformed transaction: a deploy of it changes nothing.

use std::fmt;
use std::sync::Arc;

use solana_sbpf::assembler::assemble;
use solana_sbpf::elf::{ElfError, Executable};
use solana_sbpf::program::FunctionRegistry;
use solana_sbpf::verifier::{LocalVerifier, RequisiteVerifier, VerifierError};

use crate::abi::MAX_MODULE_LEN;
use crate::context::InvokeContext;
use crate::syscalls::{loader, SBPF_VERSION};
use crate::vm::VmKind;

/// Why a module could not be assembled, loaded or verified.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The bytecode is empty.
    #[error("empty module")]
    Empty,
    /// The bytecode is longer than [`MAX_MODULE_LEN`].
    #[error("module of {0} bytes exceeds the limit of {MAX_MODULE_LEN}")]
    TooLarge(usize),
    /// The assembler rejected the source text.
    #[error("assembly failed: {0}")]
    Assembly(String),
    /// The bytecode does not form an executable.
    #[error("load failed: {0}")]
    Load(#[from] ElfError),
    /// The verifier rejected the bytecode (bad opcode, jump out of code, unknown syscall, …).
    #[error("verification failed: {0}")]
    Verify(#[from] VerifierError),
    /// JIT compilation failed.
    #[error("JIT compilation failed: {0}")]
    Jit(String),
    /// Any other VM error while loading.
    #[error("VM error while loading: {0}")]
    Vm(String),
    /// The syscall table could not be built (a bug, never the module's fault).
    #[error("loader setup failed: {0}")]
    Loader(String),
}

/// A loaded, verified contract module. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Module {
    executable: Arc<Executable<InvokeContext>>,
}

impl fmt::Debug for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Module")
            .field("bytecode_len", &self.bytecode().len())
            .field("jit_compiled", &self.is_jit_compiled())
            .finish()
    }
}

/// Turns sBPF assembler text into bytecode, as a deploy stores it. Text after `;` on a
/// line is a comment.
///
/// The bytecode is the instruction stream only; [`Module::load`] verifies it again, so
/// deploying text and deploying its bytecode are the same thing.
pub fn assemble_source(source: &str) -> Result<Vec<u8>, LoadError> {
    // `solana-sbpf`'s assembler has no comment syntax.
    let text: String = source
        .lines()
        .map(|line| line.split(';').next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let executable = assemble::<InvokeContext>(&text, loader()?).map_err(LoadError::Assembly)?;
    Ok(executable.get_text_bytes().1.to_vec())
}

impl Module {
    /// Loads and verifies `bytecode`; with [`VmKind::Jit`] also compiles it, so that a
    /// compilation failure is a load error and not a surprise during a block.
    pub fn load(bytecode: &[u8], kind: VmKind) -> Result<Self, LoadError> {
        if bytecode.is_empty() {
            return Err(LoadError::Empty);
        }
        if bytecode.len() > MAX_MODULE_LEN {
            return Err(LoadError::TooLarge(bytecode.len()));
        }
        let executable = Executable::new_from_text_bytes(
            bytecode,
            loader()?,
            SBPF_VERSION,
            FunctionRegistry::default(),
        )?;
        // The requisite checks keep the VM sound; the local ones reject unknown syscalls,
        // which would otherwise fail only when reached.
        verify::<RequisiteVerifier>(&executable)?;
        verify::<LocalVerifier>(&executable)?;
        let module = Self {
            executable: Arc::new(executable),
        };
        if kind == VmKind::Jit {
            module.jit_compile()?;
        }
        Ok(module)
    }

    /// Assembles `source` and loads the result ([`assemble_source`] then [`Module::load`]).
    pub fn from_source(source: &str, kind: VmKind) -> Result<Self, LoadError> {
        Self::load(&assemble_source(source)?, kind)
    }

    /// The module's bytecode (what a deploy stores).
    pub fn bytecode(&self) -> &[u8] {
        self.executable.get_text_bytes().1
    }

    /// Whether JIT code exists for this module.
    pub fn is_jit_compiled(&self) -> bool {
        #[cfg(all(target_arch = "x86_64", not(target_os = "windows")))]
        {
            self.executable.get_compiled_program().is_some()
        }
        #[cfg(not(all(target_arch = "x86_64", not(target_os = "windows"))))]
        {
            false
        }
    }

    /// Compiles the module to machine code (idempotent; safe to race).
    pub(crate) fn jit_compile(&self) -> Result<(), LoadError> {
        #[cfg(all(target_arch = "x86_64", not(target_os = "windows")))]
        {
            if self.is_jit_compiled() {
                return Ok(());
            }
            self.executable
                .jit_compile()
                .map_err(|error| LoadError::Jit(error.to_string()))
        }
        #[cfg(not(all(target_arch = "x86_64", not(target_os = "windows"))))]
        {
            Err(LoadError::Jit(
                "no JIT on this target; use the interpreter".to_owned(),
            ))
        }
    }

    pub(crate) fn executable(&self) -> &Executable<InvokeContext> {
        &self.executable
    }
}

fn verify<V: solana_sbpf::verifier::Verifier>(
    executable: &Executable<InvokeContext>,
) -> Result<(), LoadError> {
    executable.verify::<V>().map_err(|error| match error {
        solana_sbpf::error::EbpfError::VerifierError(error) => LoadError::Verify(error),
        other => LoadError::Vm(other.to_string()),
    })
}
