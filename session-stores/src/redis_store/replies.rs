//! The replies of the store's Lua scripts (`scripts.rs`), decoded in one place.
//!
//! The scripts answer with a table whose first element is a tag (`{'deleted', live,
//! principal}`), or, for the common save, the new version alone. Lua numbers inside a table
//! arrive as integer replies and strings as bulk strings, so every element is read as text.
//! [`decode`] turns any reply into a [`ScriptReply`] or says what was wrong with it; the
//! callers match on the enum and never on a tag.

use session_core::Timestamp;

/// A decoded reply of the create, save, delete or sweep script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ScriptReply {
    /// create: the record is stored (`{'ok'}`).
    Created,
    /// create: a live record holds the key (`{'exists'}`).
    Exists,
    /// delete: there was no record (`{'none'}`); the sweep: the key is gone (`{'missing'}`).
    Missing,
    /// delete: the record was removed (`{'deleted', live, principal}`).
    Deleted {
        /// Whether it was live by the store's clock.
        live: bool,
        /// Its principal.
        principal: Option<String>,
    },
    /// The sweep: the record is live (`{'live', expires}`), so it stays.
    Live {
        /// When it expires; `None` never (`-1`).
        expires: Option<Timestamp>,
    },
    /// The sweep: the record had expired and is removed (`{'expired', principal}`).
    Expired {
        /// Its principal.
        principal: Option<String>,
    },
    /// save: the change set is applied. A save that changed only attributes answers with the
    /// version alone; one with options (`{'ok', version, expires, old, new}`) with the rest.
    Saved {
        /// The new version.
        version: u64,
        /// What changed beside the attributes, when the save had options.
        options: Option<SavedOptions>,
    },
    /// save: the record is gone (`{'gone'}`).
    Gone,
    /// save: another writer changed what the change set touches (`{'conflict', detail}`).
    Conflict {
        /// What collided.
        detail: String,
    },
    /// save: an addition cannot be applied (`{'addition', attribute, detail}`).
    Addition {
        /// The attribute added to.
        attribute: String,
        /// Why.
        detail: String,
    },
    /// save: the record would have too many attributes (`{'limit_attributes', n}`).
    TooManyAttributes {
        /// How many it would have.
        actual: usize,
    },
    /// save: the record would be too large (`{'limit_size', n}`).
    TooLarge {
        /// The size it would have.
        actual: usize,
    },
}

/// What a save with options reports beside the version, for the indexes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SavedOptions {
    /// The new expiry; `None` never.
    pub(crate) expires: Option<Timestamp>,
    /// The principal before the save.
    pub(crate) old_principal: Option<String>,
    /// The principal after it.
    pub(crate) new_principal: Option<String>,
}

/// Decodes a script's reply; the error says what was unexpected.
pub(crate) fn decode(reply: redis::Value) -> Result<ScriptReply, String> {
    let items = match reply {
        redis::Value::Int(version) => {
            return u64::try_from(version)
                .map(|version| ScriptReply::Saved {
                    version,
                    options: None,
                })
                .map_err(|_| format!("a negative version {version}"));
        }
        redis::Value::Array(items) => items
            .into_iter()
            .map(text)
            .collect::<Result<Vec<String>, String>>()?,
        other => return Err(format!("{other:?}")),
    };
    let fields: Vec<&str> = items.iter().map(String::as_str).collect();
    let unexpected = || format!("{items:?}");
    Ok(match fields.as_slice() {
        ["ok"] => ScriptReply::Created,
        ["exists"] => ScriptReply::Exists,
        ["none"] | ["missing"] => ScriptReply::Missing,
        ["deleted", live, principal] => ScriptReply::Deleted {
            live: match *live {
                "1" => true,
                "0" => false,
                _ => return Err(unexpected()),
            },
            principal: principal_of(principal),
        },
        ["live", expires] => ScriptReply::Live {
            expires: expiry(expires).ok_or_else(unexpected)?,
        },
        ["expired", principal] => ScriptReply::Expired {
            principal: principal_of(principal),
        },
        ["ok", version, expires, old, new] => ScriptReply::Saved {
            version: version.parse().map_err(|_| unexpected())?,
            options: Some(SavedOptions {
                expires: expiry(expires).ok_or_else(unexpected)?,
                old_principal: principal_of(old),
                new_principal: principal_of(new),
            }),
        },
        ["gone"] => ScriptReply::Gone,
        ["conflict", detail] => ScriptReply::Conflict {
            detail: (*detail).to_owned(),
        },
        ["addition", attribute, detail] => ScriptReply::Addition {
            attribute: (*attribute).to_owned(),
            detail: (*detail).to_owned(),
        },
        // A count or size too large for the platform is still too large.
        ["limit_attributes", actual] => ScriptReply::TooManyAttributes {
            actual: actual.parse().unwrap_or(usize::MAX),
        },
        ["limit_size", actual] => ScriptReply::TooLarge {
            actual: actual.parse().unwrap_or(usize::MAX),
        },
        _ => return Err(unexpected()),
    })
}

/// One element of a script's table as text (Lua numbers arrive as integers).
fn text(value: redis::Value) -> Result<String, String> {
    match value {
        redis::Value::BulkString(bytes) => {
            String::from_utf8(bytes).map_err(|e| format!("a reply that is not UTF-8: {e}"))
        }
        redis::Value::SimpleString(text) => Ok(text),
        redis::Value::Int(number) => Ok(number.to_string()),
        other => Err(format!("a reply element {other:?}")),
    }
}

/// The scripts write no principal as ''.
fn principal_of(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// An expiry as the scripts write it: milliseconds, or -1 for never; `None` when it is
/// neither.
fn expiry(text: &str) -> Option<Option<Timestamp>> {
    if text == "-1" {
        return Some(None);
    }
    text.parse::<u64>()
        .ok()
        .map(|ms| Some(Timestamp::from_millis(ms)))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn bulk(text: &str) -> redis::Value {
        redis::Value::BulkString(text.as_bytes().to_vec())
    }

    fn expiry_value(expires: Option<Timestamp>) -> redis::Value {
        redis::Value::Int(expires.map_or(-1, |t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX)))
    }

    /// The reply the scripts send for `reply`, as Redis hands it over.
    fn encode(reply: &ScriptReply) -> redis::Value {
        let table = |items: Vec<redis::Value>| redis::Value::Array(items);
        let principal = |p: &Option<String>| bulk(p.as_deref().unwrap_or(""));
        match reply {
            ScriptReply::Created => table(vec![bulk("ok")]),
            ScriptReply::Exists => table(vec![bulk("exists")]),
            ScriptReply::Missing => table(vec![bulk("missing")]),
            ScriptReply::Deleted { live, principal: p } => table(vec![
                bulk("deleted"),
                bulk(if *live { "1" } else { "0" }),
                principal(p),
            ]),
            ScriptReply::Live { expires } => table(vec![bulk("live"), expiry_value(*expires)]),
            ScriptReply::Expired { principal: p } => table(vec![bulk("expired"), principal(p)]),
            ScriptReply::Saved {
                version,
                options: None,
            } => redis::Value::Int(i64::try_from(*version).unwrap_or(i64::MAX)),
            ScriptReply::Saved {
                version,
                options: Some(o),
            } => table(vec![
                bulk("ok"),
                redis::Value::Int(i64::try_from(*version).unwrap_or(i64::MAX)),
                expiry_value(o.expires),
                principal(&o.old_principal),
                principal(&o.new_principal),
            ]),
            ScriptReply::Gone => table(vec![bulk("gone")]),
            ScriptReply::Conflict { detail } => table(vec![bulk("conflict"), bulk(detail)]),
            ScriptReply::Addition { attribute, detail } => {
                table(vec![bulk("addition"), bulk(attribute), bulk(detail)])
            }
            ScriptReply::TooManyAttributes { actual } => table(vec![
                bulk("limit_attributes"),
                redis::Value::Int(*actual as i64),
            ]),
            ScriptReply::TooLarge { actual } => {
                table(vec![bulk("limit_size"), redis::Value::Int(*actual as i64)])
            }
        }
    }

    fn principal() -> impl Strategy<Value = Option<String>> {
        prop::option::of("[a-z@.\u{e5}\u{e4}]{1,12}")
    }

    fn expires() -> impl Strategy<Value = Option<Timestamp>> {
        prop::option::of((0u64..1 << 50).prop_map(Timestamp::from_millis))
    }

    fn reply() -> impl Strategy<Value = ScriptReply> {
        let version = 0u64..(i64::MAX as u64);
        prop_oneof![
            Just(ScriptReply::Created),
            Just(ScriptReply::Exists),
            Just(ScriptReply::Missing),
            Just(ScriptReply::Gone),
            (any::<bool>(), principal())
                .prop_map(|(live, principal)| ScriptReply::Deleted { live, principal }),
            expires().prop_map(|expires| ScriptReply::Live { expires }),
            principal().prop_map(|principal| ScriptReply::Expired { principal }),
            version.clone().prop_map(|version| ScriptReply::Saved {
                version,
                options: None
            }),
            (version, expires(), principal(), principal()).prop_map(
                |(version, expires, old_principal, new_principal)| ScriptReply::Saved {
                    version,
                    options: Some(SavedOptions {
                        expires,
                        old_principal,
                        new_principal
                    }),
                }
            ),
            ".{0,40}".prop_map(|detail| ScriptReply::Conflict { detail }),
            ("[a-z]{1,10}", ".{0,40}")
                .prop_map(|(attribute, detail)| ScriptReply::Addition { attribute, detail }),
            (0usize..1 << 40).prop_map(|actual| ScriptReply::TooManyAttributes { actual }),
            (0usize..1 << 40).prop_map(|actual| ScriptReply::TooLarge { actual }),
        ]
    }

    fn any_value() -> impl Strategy<Value = redis::Value> {
        let leaf = prop_oneof![
            Just(redis::Value::Nil),
            any::<i64>().prop_map(redis::Value::Int),
            prop::collection::vec(any::<u8>(), 0..12).prop_map(redis::Value::BulkString),
            prop_oneof![
                Just("ok"),
                Just("deleted"),
                Just("live"),
                Just("expired"),
                Just("conflict"),
                Just("addition"),
                Just("limit_size"),
                Just("1"),
                Just("-1"),
                Just("")
            ]
            .prop_map(bulk),
        ];
        leaf.prop_recursive(2, 16, 6, |inner| {
            prop::collection::vec(inner, 0..6).prop_map(redis::Value::Array)
        })
    }

    proptest! {
        /// Every reply the scripts send decodes to what they meant.
        #[test]
        fn script_replies_decode_to_what_they_say(reply in reply()) {
            prop_assert_eq!(decode(encode(&reply)), Ok(reply));
        }

        /// Anything else is an error naming it, never a panic.
        #[test]
        fn any_reply_decodes_or_is_refused(value in any_value()) {
            if let Ok(reply) = decode(value.clone()) {
                prop_assert_eq!(decode(encode(&reply)), Ok(reply));
            }
        }
    }
}
