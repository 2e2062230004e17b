//! The Protocol A data types the client uses, decoded from tokens.

use super::numbers::{ConfNo, PersNo, TextNo};
use super::reader::{Decode, TokenReader};
use crate::error::Error;

/// A point in time as the server sends it (`Time`): broken-down local time of the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Time {
    /// Seconds (0–59).
    pub seconds: u32,
    /// Minutes (0–59).
    pub minutes: u32,
    /// Hours (0–23).
    pub hours: u32,
    /// Day of the month (1–31).
    pub day: u32,
    /// Month, 0 = January.
    pub month: u32,
    /// Years since 1900.
    pub year: u32,
    /// Day of the week, 0 = Sunday.
    pub day_of_week: u32,
    /// Day of the year, 0-based.
    pub day_of_year: u32,
    /// Whether daylight saving time is in effect.
    pub is_dst: bool,
}

impl Time {
    /// ISO 8601 as httpkom writes it: `1994-11-05T13:15:30Z`.
    pub fn to_iso8601(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year + 1900,
            self.month + 1,
            self.day,
            self.hours,
            self.minutes,
            self.seconds
        )
    }
}

impl Decode for Time {
    fn decode(r: &mut TokenReader<'_>) -> Result<Self, Error> {
        Ok(Time {
            seconds: r.int()?,
            minutes: r.int()?,
            hours: r.int()?,
            day: r.int()?,
            month: r.int()?,
            year: r.int()?,
            day_of_week: r.int()?,
            day_of_year: r.int()?,
            is_dst: r.bool()?,
        })
    }
}

fn flag(bits: &[bool], i: usize) -> bool {
    bits.get(i).copied().unwrap_or(false)
}

/// A conference's type (`Extended-Conf-Type`, or the shorter `Conf-Type`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConfType {
    /// Read-protected: only members may read.
    pub rd_prot: bool,
    /// Original: comments go to the super conference.
    pub original: bool,
    /// Secret.
    pub secret: bool,
    /// A person's letterbox.
    pub letterbox: bool,
    /// Anonymous texts allowed.
    pub allow_anonymous: bool,
    /// Secret members forbidden.
    pub forbid_secret: bool,
    /// Reserved bit 2.
    pub reserved2: bool,
    /// Reserved bit 3.
    pub reserved3: bool,
}

impl ConfType {
    /// The type from bits, first flag first.
    pub fn from_bits(b: &[bool]) -> Self {
        ConfType {
            rd_prot: flag(b, 0),
            original: flag(b, 1),
            secret: flag(b, 2),
            letterbox: flag(b, 3),
            allow_anonymous: flag(b, 4),
            forbid_secret: flag(b, 5),
            reserved2: flag(b, 6),
            reserved3: flag(b, 7),
        }
    }

    /// The type as an `Extended-Conf-Type` bit-string.
    pub fn to_bits(&self) -> Vec<bool> {
        vec![
            self.rd_prot,
            self.original,
            self.secret,
            self.letterbox,
            self.allow_anonymous,
            self.forbid_secret,
            self.reserved2,
            self.reserved3,
        ]
    }
}

impl Decode for ConfType {
    fn decode(r: &mut TokenReader<'_>) -> Result<Self, Error> {
        Ok(ConfType::from_bits(&r.bits()?))
    }
}

/// A membership's type (`Membership-Type`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MembershipType {
    /// An invitation not yet accepted.
    pub invitation: bool,
    /// Passive: the conference is not read.
    pub passive: bool,
    /// Secret membership.
    pub secret: bool,
    /// Passive-message-invert.
    pub passive_message_invert: bool,
}

impl MembershipType {
    /// The type as a bit-string.
    pub fn to_bits(&self) -> Vec<bool> {
        vec![
            self.invitation,
            self.passive,
            self.secret,
            self.passive_message_invert,
            false,
            false,
            false,
            false,
        ]
    }
}

impl Decode for MembershipType {
    fn decode(r: &mut TokenReader<'_>) -> Result<Self, Error> {
        let b = r.bits()?;
        Ok(MembershipType {
            invitation: flag(&b, 0),
            passive: flag(&b, 1),
            secret: flag(&b, 2),
            passive_message_invert: flag(&b, 3),
        })
    }
}

/// An aux-item (`Aux-Item`) attached to a text, conference or the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuxItem {
    /// Its number.
    pub aux_no: u32,
    /// Its tag (what kind of item).
    pub tag: u32,
    /// Who created it.
    pub creator: PersNo,
    /// When.
    pub created_at: Time,
    /// `Aux-Item-Flags`: deleted, inherit, secret, hide-creator, dont-garb, …
    pub flags: Vec<bool>,
    /// How many levels it is inherited.
    pub inherit_limit: u32,
    /// Its data.
    pub data: Vec<u8>,
}

impl Decode for AuxItem {
    fn decode(r: &mut TokenReader<'_>) -> Result<Self, Error> {
        Ok(AuxItem {
            aux_no: r.int()?,
            tag: r.int()?,
            creator: r.read()?,
            created_at: r.read()?,
            flags: r.bits()?,
            inherit_limit: r.int()?,
            data: r.bytes()?.to_vec(),
        })
    }
}

/// A conference in a name lookup (`Conf-Z-Info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfZInfo {
    /// The name.
    pub name: String,
    /// The type.
    pub conf_type: ConfType,
    /// The number.
    pub conf_no: ConfNo,
}

impl Decode for ConfZInfo {
    fn decode(r: &mut TokenReader<'_>) -> Result<Self, Error> {
        Ok(ConfZInfo {
            name: r.latin1()?,
            conf_type: r.read()?,
            conf_no: r.read()?,
        })
    }
}

/// The short form of a conference (`UConference`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UConference {
    /// The name.
    pub name: String,
    /// The type.
    pub conf_type: ConfType,
    /// The highest local text number.
    pub highest_local_no: u32,
    /// The garb-nice value.
    pub nice: u32,
}

impl Decode for UConference {
    fn decode(r: &mut TokenReader<'_>) -> Result<Self, Error> {
        Ok(UConference {
            name: r.latin1()?,
            conf_type: r.read()?,
            highest_local_no: r.int()?,
            nice: r.int()?,
        })
    }
}

/// A conference's status (`Conference`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conference {
    /// The name.
    pub name: String,
    /// The type.
    pub conf_type: ConfType,
    /// When it was created.
    pub creation_time: Time,
    /// When a text was last written to it.
    pub last_written: Time,
    /// Who created it.
    pub creator: PersNo,
    /// Its presentation text (0 if none).
    pub presentation: TextNo,
    /// Its supervisor conference.
    pub supervisor: ConfNo,
    /// Who may write to it (0 = everyone).
    pub permitted_submitters: ConfNo,
    /// Where comments go for original conferences.
    pub super_conf: ConfNo,
    /// Its message of the day (0 if none).
    pub msg_of_day: TextNo,
    /// Garb-nice.
    pub nice: u32,
    /// Keep-commented.
    pub keep_commented: u32,
    /// Number of members.
    pub no_of_members: u32,
    /// The lowest existing local text number.
    pub first_local_no: u32,
    /// Number of texts.
    pub no_of_texts: u32,
    /// Expire.
    pub expire: u32,
    /// Aux-items.
    pub aux_items: Vec<AuxItem>,
}

impl Decode for Conference {
    fn decode(r: &mut TokenReader<'_>) -> Result<Self, Error> {
        Ok(Conference {
            name: r.latin1()?,
            conf_type: r.read()?,
            creation_time: r.read()?,
            last_written: r.read()?,
            creator: r.read()?,
            presentation: r.read()?,
            supervisor: r.read()?,
            permitted_submitters: r.read()?,
            super_conf: r.read()?,
            msg_of_day: r.read()?,
            nice: r.int()?,
            keep_commented: r.int()?,
            no_of_members: r.int()?,
            first_local_no: r.int()?,
            no_of_texts: r.int()?,
            expire: r.int()?,
            aux_items: r.array_of()?,
        })
    }
}

/// A person's status (`Person`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// The user name (host name of the last login, in practice).
    pub username: String,
    /// `Priv-Bits`.
    pub privileges: Vec<bool>,
    /// `Personal-Flags`.
    pub flags: Vec<bool>,
    /// Last login.
    pub last_login: Time,
    /// The user area text (0 if none).
    pub user_area: TextNo,
    /// Seconds logged in.
    pub total_time_present: u32,
    /// Number of sessions.
    pub sessions: u32,
    /// Lines written.
    pub created_lines: u32,
    /// Bytes written.
    pub created_bytes: u32,
    /// Texts read.
    pub read_texts: u32,
    /// Texts fetched.
    pub no_of_text_fetches: u32,
    /// Persons created.
    pub created_persons: u32,
    /// Conferences created.
    pub created_confs: u32,
    /// First local number in the created-texts map.
    pub first_created_local_no: u32,
    /// Number of created texts.
    pub no_of_created_texts: u32,
    /// Number of marks.
    pub no_of_marks: u32,
    /// Number of memberships.
    pub no_of_confs: u32,
}

impl Decode for Person {
    fn decode(r: &mut TokenReader<'_>) -> Result<Self, Error> {
        Ok(Person {
            username: r.latin1()?,
            privileges: r.bits()?,
            flags: r.bits()?,
            last_login: r.read()?,
            user_area: r.read()?,
            total_time_present: r.int()?,
            sessions: r.int()?,
            created_lines: r.int()?,
            created_bytes: r.int()?,
            read_texts: r.int()?,
            no_of_text_fetches: r.int()?,
            created_persons: r.int()?,
            created_confs: r.int()?,
            first_created_local_no: r.int()?,
            no_of_created_texts: r.int()?,
            no_of_marks: r.int()?,
            no_of_confs: r.int()?,
        })
    }
}

/// One entry of a text's misc-info list (`Misc-Info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MiscInfo {
    /// 0: recipient.
    Recipient(ConfNo),
    /// 1: carbon-copy recipient.
    CcRecipient(ConfNo),
    /// 2: comment to a text.
    CommentTo(TextNo),
    /// 3: commented in a text.
    CommentedIn(TextNo),
    /// 4: footnote to a text.
    FootnoteTo(TextNo),
    /// 5: footnoted in a text.
    FootnotedIn(TextNo),
    /// 6: local number in the preceding recipient.
    LocalNo(u32),
    /// 7: when the preceding recipient received it.
    ReceivedAt(Time),
    /// 8: who added the preceding recipient.
    Sender(PersNo),
    /// 9: when the preceding recipient was added.
    SentAt(Time),
    /// 15: blind carbon-copy recipient.
    BccRecipient(ConfNo),
}

impl MiscInfo {
    /// The selector number and value as request arguments.
    pub fn to_arg(&self) -> super::encode::Arg {
        use super::encode::Arg;
        let (sel, value) = match self {
            MiscInfo::Recipient(n) => (0, n.get()),
            MiscInfo::CcRecipient(n) => (1, n.get()),
            MiscInfo::CommentTo(n) => (2, n.get()),
            MiscInfo::CommentedIn(n) => (3, n.get()),
            MiscInfo::FootnoteTo(n) => (4, n.get()),
            MiscInfo::FootnotedIn(n) => (5, n.get()),
            MiscInfo::LocalNo(n) => (6, *n),
            MiscInfo::Sender(n) => (8, n.get()),
            MiscInfo::BccRecipient(n) => (15, n.get()),
            MiscInfo::ReceivedAt(_) | MiscInfo::SentAt(_) => (7, 0),
        };
        Arg::Struct(vec![Arg::Int(sel), Arg::Int(value)])
    }
}

impl Decode for MiscInfo {
    fn decode(r: &mut TokenReader<'_>) -> Result<Self, Error> {
        Ok(match r.int()? {
            0 => MiscInfo::Recipient(r.read()?),
            1 => MiscInfo::CcRecipient(r.read()?),
            2 => MiscInfo::CommentTo(r.read()?),
            3 => MiscInfo::CommentedIn(r.read()?),
            4 => MiscInfo::FootnoteTo(r.read()?),
            5 => MiscInfo::FootnotedIn(r.read()?),
            6 => MiscInfo::LocalNo(r.int()?),
            7 => MiscInfo::ReceivedAt(r.read()?),
            8 => MiscInfo::Sender(r.read()?),
            9 => MiscInfo::SentAt(r.read()?),
            15 => MiscInfo::BccRecipient(r.read()?),
            other => {
                return Err(Error::Malformed(format!(
                    "unknown misc-info selector {other}"
                )));
            }
        })
    }
}

/// A text's status (`Text-Stat`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextStat {
    /// When it was written.
    pub creation_time: Time,
    /// Its author.
    pub author: PersNo,
    /// Number of lines.
    pub no_of_lines: u32,
    /// Number of characters (bytes).
    pub no_of_chars: u32,
    /// Number of marks.
    pub no_of_marks: u32,
    /// Recipients, comments, footnotes.
    pub misc_info: Vec<MiscInfo>,
    /// Aux-items (content type among them).
    pub aux_items: Vec<AuxItem>,
}

impl Decode for TextStat {
    fn decode(r: &mut TokenReader<'_>) -> Result<Self, Error> {
        Ok(TextStat {
            creation_time: r.read()?,
            author: r.read()?,
            no_of_lines: r.int()?,
            no_of_chars: r.int()?,
            no_of_marks: r.int()?,
            misc_info: r.array_of()?,
            aux_items: r.array_of()?,
        })
    }
}

/// A range of read local text numbers (`Read-Range`), both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadRange {
    /// The first read local number.
    pub first_read: u32,
    /// The last read local number.
    pub last_read: u32,
}

impl Decode for ReadRange {
    fn decode(r: &mut TokenReader<'_>) -> Result<Self, Error> {
        Ok(ReadRange {
            first_read: r.int()?,
            last_read: r.int()?,
        })
    }
}

/// A person's membership in a conference (`Membership`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    /// Its position in the person's list.
    pub position: u32,
    /// When the person last read the conference.
    pub last_time_read: Time,
    /// The conference.
    pub conference: ConfNo,
    /// Priority (0–255).
    pub priority: u32,
    /// What has been read.
    pub read_ranges: Vec<ReadRange>,
    /// Who added the membership.
    pub added_by: PersNo,
    /// When.
    pub added_at: Time,
    /// Its type.
    pub membership_type: MembershipType,
}

impl Decode for Membership {
    fn decode(r: &mut TokenReader<'_>) -> Result<Self, Error> {
        Ok(Membership {
            position: r.int()?,
            last_time_read: r.read()?,
            conference: r.read()?,
            priority: r.int()?,
            read_ranges: r.array_of()?,
            added_by: r.read()?,
            added_at: r.read()?,
            membership_type: r.read()?,
        })
    }
}

/// Local-to-global text numbers of a conference (`Text-Mapping`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextMapping {
    /// The first local number covered.
    pub range_begin: u32,
    /// One past the last local number covered.
    pub range_end: u32,
    /// Whether texts exist beyond `range_end`.
    pub more_texts_exist: bool,
    /// (local, global) pairs of the texts that exist in the range.
    pub pairs: Vec<(u32, TextNo)>,
}

impl Decode for TextMapping {
    fn decode(r: &mut TokenReader<'_>) -> Result<Self, Error> {
        let range_begin = r.int()?;
        let range_end = r.int()?;
        let more_texts_exist = r.bool()?;
        let pairs = match r.int()? {
            0 => r.array(|r| Ok((r.int()?, r.read()?)))?,
            1 => {
                let first = r.int()?;
                let globals: Vec<TextNo> = r.array_of()?;
                globals
                    .into_iter()
                    .enumerate()
                    .filter(|(_, g)| !g.is_zero())
                    .map(|(i, g)| (first.saturating_add(i as u32), g))
                    .collect()
            }
            other => {
                return Err(Error::Malformed(format!(
                    "unknown text-mapping block {other}"
                )));
            }
        };
        Ok(TextMapping {
            range_begin,
            range_end,
            more_texts_exist,
            pairs,
        })
    }
}

/// A mark on a text (`Mark`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    /// The marked text.
    pub text_no: TextNo,
    /// The mark type (0–255).
    pub mark_type: u32,
}

impl Decode for Mark {
    fn decode(r: &mut TokenReader<'_>) -> Result<Self, Error> {
        Ok(Mark {
            text_no: r.read()?,
            mark_type: r.int()?,
        })
    }
}

/// Facts about the server (`Info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerInfo {
    /// The server's version number.
    pub version: u32,
    /// Where conferences are presented.
    pub conf_pres_conf: ConfNo,
    /// Where persons are presented.
    pub pers_pres_conf: ConfNo,
    /// Message-of-the-day conference.
    pub motd_conf: ConfNo,
    /// News about LysKOM.
    pub kom_news_conf: ConfNo,
    /// The server's message of the day (0 if none).
    pub motd_of_lyskom: TextNo,
    /// The server's aux-items.
    pub aux_items: Vec<AuxItem>,
}

impl Decode for ServerInfo {
    fn decode(r: &mut TokenReader<'_>) -> Result<Self, Error> {
        Ok(ServerInfo {
            version: r.int()?,
            conf_pres_conf: r.read()?,
            pers_pres_conf: r.read()?,
            motd_conf: r.read()?,
            kom_news_conf: r.read()?,
            motd_of_lyskom: r.read()?,
            aux_items: r.array_of()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::reader::decode_all;
    use crate::protocol::token::{Message, parse_message};

    fn body(input: &[u8]) -> Vec<crate::protocol::token::Token> {
        match parse_message(input) {
            Ok(Some((Message::Reply { body, .. }, _))) => body,
            other => panic!("not a reply: {other:?}"),
        }
    }

    #[test]
    fn decodes_a_real_text_stat() {
        let tokens = body(b"=4 0 27 12 22 10 126 0 325 0 5 2 19 0 3 { 0 1 6 1 7 2 27 12 22 10 126 0 325 0 } 1 { 1 1 5 0 27 12 22 10 126 0 325 0 00000000 0 10Htext/plain }\n");
        let stat: TextStat = decode_all(&tokens).unwrap();
        assert_eq!(stat.author, PersNo(5));
        assert_eq!(stat.misc_info[0], MiscInfo::Recipient(ConfNo(1)));
        assert_eq!(stat.misc_info[1], MiscInfo::LocalNo(1));
        assert_eq!(stat.aux_items[0].data, b"text/plain");
        assert_eq!(stat.creation_time.to_iso8601(), "2026-11-22T12:27:00Z");
    }

    #[test]
    fn decodes_dense_and_sparse_text_mappings() {
        let dense: TextMapping = decode_all(&body(b"=1 1 4 0 1 1 3 { 10 0 12 }\n")).unwrap();
        assert_eq!(dense.pairs, vec![(1, TextNo(10)), (3, TextNo(12))]);
        let sparse: TextMapping = decode_all(&body(b"=1 1 4 1 0 1 { 2 11 }\n")).unwrap();
        assert_eq!(sparse.pairs, vec![(2, TextNo(11))]);
        assert!(sparse.more_texts_exist);
    }

    /// Replies captured from a real lyskomd (also in the fuzz corpus).
    #[test]
    fn decodes_real_lyskomd_replies() {
        let memberships: Vec<Membership> = decode_all(&body(b"=15 2 { 0 22 41 4 22 10 126 0 325 0 7 100 0 * 5 22 41 4 22 10 126 0 325 0 00000000 1 49 14 15 13 8 91 5 255 0 5 255 0 * 5 49 14 15 13 8 91 5 255 0 00000000 }\n")).unwrap();
        assert_eq!(memberships.len(), 2);
        assert_eq!(
            (memberships[0].conference, memberships[0].priority),
            (ConfNo(7), 100)
        );
        assert_eq!(memberships[1].conference, ConfNo(5));
        assert!(memberships[1].read_ranges.is_empty());

        let person: Person = decode_all(&body(b"=14 24Hfuzzy(unknown)@127.0.0.1 1111111111111111 00000000 22 41 4 22 10 126 0 325 0 0 482 5 0 0 0 0 1 1 1 0 0 2\n")).unwrap();
        assert_eq!(person.username, "fuzzy(unknown)@127.0.0.1");
        assert!(person.privileges.iter().all(|b| *b));
        assert_eq!(person.no_of_confs, 2);

        let conf: Conference = decode_all(&body(b"=12 9HFuzz conf 00001000 22 41 4 22 10 126 0 325 0 22 41 4 22 10 126 0 325 0 5 0 5 0 5 0 77 77 1 1 0 0 0 *\n")).unwrap();
        assert_eq!(conf.name, "Fuzz conf");
        assert!(conf.conf_type.allow_anonymous);
        assert_eq!(
            (conf.creator, conf.supervisor, conf.no_of_members),
            (PersNo(5), ConfNo(5), 1)
        );

        let info: ServerInfo = decode_all(&body(b"=21 20102 1 2 3 4 0 0 *\n")).unwrap();
        assert_eq!(
            (info.version, info.motd_conf, info.kom_news_conf),
            (20102, ConfNo(3), ConfNo(4))
        );

        let empty: TextMapping = decode_all(&body(b"=18 1 1 0 0 0 *\n")).unwrap();
        assert!(empty.pairs.is_empty() && !empty.more_texts_exist);

        let found: Vec<ConfZInfo> = decode_all(&body(
            b"=22 2 { 10Hfuzz pers\xe5 1001 6 9HFuzz conf 0000 7 }\n",
        ))
        .unwrap();
        assert_eq!(found[0].name, "fuzz pers\u{e5}");
        assert!(found[0].conf_type.letterbox);
    }
}
