//! Protocol A error codes and their names.

/// Error code 4: wrong password.
pub const INVALID_PASSWORD: u32 = 4;
/// Error code 6: the call needs a logged-in session.
pub const LOGIN_FIRST: u32 = 6;
/// Error code 7: logins are disallowed.
pub const LOGIN_DISALLOWED: u32 = 7;
/// Error code 8: conference zero was given.
pub const CONFERENCE_ZERO: u32 = 8;
/// Error code 9: no such conference.
pub const UNDEFINED_CONFERENCE: u32 = 9;
/// Error code 10: no such person.
pub const UNDEFINED_PERSON: u32 = 10;
/// Error code 13: not a member of the conference.
pub const NOT_MEMBER: u32 = 13;
/// Error code 14: no such text.
pub const NO_SUCH_TEXT: u32 = 14;
/// Error code 15: text zero was given.
pub const TEXT_ZERO: u32 = 15;
/// Error code 16: no such local text.
pub const NO_SUCH_LOCAL_TEXT: u32 = 16;
/// Error code 42: no such session.
pub const UNDEFINED_SESSION: u32 = 42;

const NAMES: [&str; 62] = [
    "NoError",
    "NoError",
    "NotImplemented",
    "ObsoleteCall",
    "InvalidPassword",
    "StringTooLong",
    "LoginFirst",
    "LoginDisallowed",
    "ConferenceZero",
    "UndefinedConference",
    "UndefinedPerson",
    "AccessDenied",
    "PermissionDenied",
    "NotMember",
    "NoSuchText",
    "TextZero",
    "NoSuchLocalText",
    "LocalTextZero",
    "BadName",
    "IndexOutOfRange",
    "ConferenceExists",
    "PersonExists",
    "SecretPublic",
    "Letterbox",
    "LdbError",
    "IllegalMisc",
    "IllegalInfoType",
    "AlreadyRecipient",
    "AlreadyComment",
    "AlreadyFootnote",
    "NotRecipient",
    "NotComment",
    "NotFootnote",
    "RecipientLimit",
    "CommentLimit",
    "FootnoteLimit",
    "MarkLimit",
    "NotAuthor",
    "NoConnect",
    "OutOfmemory",
    "ServerIsCrazy",
    "ClientIsCrazy",
    "UndefinedSession",
    "RegexpError",
    "NotMarked",
    "TemporaryFailure",
    "LongArray",
    "AnonymousRejected",
    "IllegalAuxItem",
    "AuxItemPermission",
    "UnknownAsync",
    "InternalError",
    "FeatureDisabled",
    "MessageNotSent",
    "InvalidMembershipType",
    "InvalidRange",
    "InvalidRangeList",
    "UndefinedMeasurement",
    "PriorityDenied",
    "WeightDenied",
    "WeightZero",
    "BadBool",
];

/// The name of error `code` as pylyskom spells it (`InvalidPassword`, `LoginFirst` …), or
/// `None` for codes the specification does not define.
pub fn name(code: u32) -> Option<&'static str> {
    match code {
        2..=61 => NAMES.get(code as usize).copied(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_specification_numbers() {
        assert_eq!(name(INVALID_PASSWORD), Some("InvalidPassword"));
        assert_eq!(name(LOGIN_FIRST), Some("LoginFirst"));
        assert_eq!(name(UNDEFINED_CONFERENCE), Some("UndefinedConference"));
        assert_eq!(name(UNDEFINED_SESSION), Some("UndefinedSession"));
        assert_eq!(name(61), Some("BadBool"));
        assert_eq!(name(0), None);
        assert_eq!(name(62), None);
    }
}
