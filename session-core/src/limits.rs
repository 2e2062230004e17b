//! Size and count limits on records, so that one client cannot make a store hold unbounded data.

/// Limits a record must stay within. Checked when a value is inserted and again by the store
/// when a change set is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most attributes in one record.
    pub max_attributes: usize,
    /// Longest attribute name, in bytes.
    pub max_key_bytes: usize,
    /// Largest record: attribute names and encoded values and the principal, in bytes.
    pub max_record_bytes: usize,
    /// Longest principal, in bytes.
    pub max_principal_bytes: usize,
}

impl Default for Limits {
    /// 256 attributes, 256-byte names, 1 MiB per record, 256-byte principals.
    fn default() -> Self {
        Limits {
            max_attributes: 256,
            max_key_bytes: 256,
            max_record_bytes: 1024 * 1024,
            max_principal_bytes: 256,
        }
    }
}

/// Which limit a record would exceed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// Too many attributes.
    #[error("too many attributes: {actual} (limit {limit})")]
    Attributes {
        /// The number the record would have.
        actual: usize,
        /// The limit.
        limit: usize,
    },
    /// An attribute name is too long or empty.
    #[error("attribute name of {actual} bytes is not allowed (1 to {limit} bytes)")]
    KeyLength {
        /// The length given.
        actual: usize,
        /// The limit.
        limit: usize,
    },
    /// The record would be too large.
    #[error("record of {actual} bytes is too large (limit {limit})")]
    RecordSize {
        /// The size the record would have.
        actual: usize,
        /// The limit.
        limit: usize,
    },
    /// The principal is too long or empty.
    #[error("principal of {actual} bytes is not allowed (1 to {limit} bytes)")]
    PrincipalLength {
        /// The length given.
        actual: usize,
        /// The limit.
        limit: usize,
    },
}

impl Limits {
    /// Checks an attribute name.
    pub fn check_key(&self, key: &str) -> Result<(), LimitError> {
        if key.is_empty() || key.len() > self.max_key_bytes {
            return Err(LimitError::KeyLength {
                actual: key.len(),
                limit: self.max_key_bytes,
            });
        }
        Ok(())
    }

    /// Checks a principal.
    pub fn check_principal(&self, principal: &str) -> Result<(), LimitError> {
        if principal.is_empty() || principal.len() > self.max_principal_bytes {
            return Err(LimitError::PrincipalLength {
                actual: principal.len(),
                limit: self.max_principal_bytes,
            });
        }
        Ok(())
    }
}
