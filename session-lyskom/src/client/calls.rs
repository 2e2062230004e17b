//! The typed calls: one method per Protocol A call the gateway and its users make, each
//! encoding its arguments and decoding its reply through [`Client::call`].

use super::Client;
use crate::error::Error;
use crate::protocol::call;
use crate::protocol::encode::Arg;
use crate::protocol::numbers::{ConfNo, PersNo, SessionNo, TextNo};
use crate::protocol::token::Token;
use crate::protocol::types::{
    ConfType, ConfZInfo, Conference, Mark, Membership, MembershipType, MiscInfo, Person,
    ServerInfo, TextMapping, TextStat, Time, UConference,
};

impl Client {
    /// login (call 62): logs in as `person` (visibly unless `invisible`).
    pub async fn login(
        &self,
        person: PersNo,
        password: &str,
        invisible: bool,
    ) -> Result<(), Error> {
        self.call(
            call::LOGIN,
            &[person.into(), Arg::latin1(password)?, Arg::Bool(invisible)],
        )
        .await
    }

    /// logout (call 1).
    pub async fn logout(&self) -> Result<(), Error> {
        self.call(call::LOGOUT, &[]).await
    }

    /// who-am-i (call 56): this connection's session number.
    pub async fn who_am_i(&self) -> Result<SessionNo, Error> {
        self.call(call::WHO_AM_I, &[]).await
    }

    /// user-active (call 82): tells the server the user is active.
    pub async fn user_active(&self) -> Result<(), Error> {
        self.call(call::USER_ACTIVE, &[]).await
    }

    /// disconnect (call 55): ends session `session_no` (0 = this one).
    pub async fn disconnect(&self, session_no: SessionNo) -> Result<(), Error> {
        self.call(call::DISCONNECT, &[session_no.into()]).await
    }

    /// get-time (call 35): the server's clock.
    pub async fn get_time(&self) -> Result<Time, Error> {
        self.call(call::GET_TIME, &[]).await
    }

    /// enable (call 42): sets the privilege level (255 for an administrator's full rights).
    pub async fn enable(&self, level: u32) -> Result<(), Error> {
        self.call(call::ENABLE, &[Arg::Int(level)]).await
    }

    /// set-client-version (call 69).
    pub async fn set_client_version(&self, name: &str, version: &str) -> Result<(), Error> {
        self.call(
            call::SET_CLIENT_VERSION,
            &[Arg::text(name), Arg::text(version)],
        )
        .await
    }

    /// accept-async (call 80): the asynchronous messages this connection wants.
    pub async fn accept_async(&self, messages: &[u32]) -> Result<(), Error> {
        let list = messages.iter().map(|m| Arg::Int(*m)).collect();
        self.call(call::ACCEPT_ASYNC, &[Arg::Array(list)]).await
    }

    /// change-conference (call 2): sets the working conference.
    pub async fn change_conference(&self, conf_no: impl Into<ConfNo>) -> Result<(), Error> {
        self.call(call::CHANGE_CONFERENCE, &[conf_no.into().into()])
            .await
    }

    /// lookup-z-name (call 76): persons and/or conferences whose names match `name`.
    pub async fn lookup_z_name(
        &self,
        name: &str,
        want_persons: bool,
        want_confs: bool,
    ) -> Result<Vec<ConfZInfo>, Error> {
        self.call(
            call::LOOKUP_Z_NAME,
            &[
                Arg::latin1(name)?,
                Arg::Bool(want_persons),
                Arg::Bool(want_confs),
            ],
        )
        .await
    }

    /// create-person (call 89): a new person with `name` and `password`; its number.
    pub async fn create_person(&self, name: &str, password: &str) -> Result<PersNo, Error> {
        self.call(
            call::CREATE_PERSON,
            &[
                Arg::latin1(name)?,
                Arg::latin1(password)?,
                Arg::Bits(vec![false; 8]),
                Arg::Array(vec![]),
            ],
        )
        .await
    }

    /// create-conf (call 88): a new conference of `conf_type`; its number.
    pub async fn create_conf(&self, name: &str, conf_type: ConfType) -> Result<ConfNo, Error> {
        self.call(
            call::CREATE_CONF,
            &[
                Arg::latin1(name)?,
                Arg::Bits(conf_type.to_bits()),
                Arg::Array(vec![]),
            ],
        )
        .await
    }

    /// get-uconf-stat (call 78) of a conference (or a person's letterbox).
    pub async fn get_uconf_stat(&self, conf_no: impl Into<ConfNo>) -> Result<UConference, Error> {
        self.call(call::GET_UCONF_STAT, &[conf_no.into().into()])
            .await
    }

    /// get-conf-stat (call 91) of a conference (or a person's letterbox).
    pub async fn get_conf_stat(&self, conf_no: impl Into<ConfNo>) -> Result<Conference, Error> {
        self.call(call::GET_CONF_STAT, &[conf_no.into().into()])
            .await
    }

    /// get-person-stat (call 49).
    pub async fn get_person_stat(&self, pers_no: PersNo) -> Result<Person, Error> {
        self.call(call::GET_PERSON_STAT, &[pers_no.into()]).await
    }

    /// get-info (call 94): facts about the server.
    pub async fn get_info(&self) -> Result<ServerInfo, Error> {
        self.call(call::GET_INFO, &[]).await
    }

    /// create-text (call 86): a text (`subject\nbody` by convention) with misc-info and aux-items
    /// given as (tag, data) pairs; its number.
    pub async fn create_text(
        &self,
        text: &[u8],
        misc_info: &[MiscInfo],
        aux_items: &[(u32, Vec<u8>)],
    ) -> Result<TextNo, Error> {
        let misc = misc_info.iter().map(MiscInfo::to_arg).collect();
        let aux = aux_items
            .iter()
            .map(|(tag, data)| {
                Arg::Struct(vec![
                    Arg::Int(*tag),
                    Arg::Bits(vec![false; 8]),
                    Arg::Int(0),
                    Arg::Str(data.clone()),
                ])
            })
            .collect();
        self.call(
            call::CREATE_TEXT,
            &[Arg::Str(text.to_vec()), Arg::Array(misc), Arg::Array(aux)],
        )
        .await
    }

    /// get-text (call 25): the bytes of a text (subject line and body).
    pub async fn get_text(&self, text_no: TextNo) -> Result<Vec<u8>, Error> {
        let tokens = self
            .call_raw(
                call::GET_TEXT,
                &[text_no.into(), Arg::Int(0), Arg::Int(i32::MAX as u32)],
            )
            .await?;
        match tokens.as_slice() {
            [Token::Str(bytes)] => Ok(bytes.clone()),
            _ => Err(Error::Malformed("get-text must answer one string".into())),
        }
    }

    /// get-text-stat (call 90).
    pub async fn get_text_stat(&self, text_no: TextNo) -> Result<TextStat, Error> {
        self.call(call::GET_TEXT_STAT, &[text_no.into()]).await
    }

    /// local-to-global (call 103): global numbers of up to `count` texts from `first_local_no`.
    pub async fn local_to_global(
        &self,
        conf_no: ConfNo,
        first_local_no: u32,
        count: u32,
    ) -> Result<TextMapping, Error> {
        self.call(
            call::LOCAL_TO_GLOBAL,
            &[conf_no.into(), Arg::Int(first_local_no), Arg::Int(count)],
        )
        .await
    }

    /// local-to-global-reverse (call 121): global numbers of up to `count` texts below
    /// `local_ceiling` (0 = the newest texts).
    pub async fn local_to_global_reverse(
        &self,
        conf_no: ConfNo,
        local_ceiling: u32,
        count: u32,
    ) -> Result<TextMapping, Error> {
        self.call(
            call::LOCAL_TO_GLOBAL_REVERSE,
            &[conf_no.into(), Arg::Int(local_ceiling), Arg::Int(count)],
        )
        .await
    }

    /// get-membership (call 108): up to `count` memberships of `pers_no` from position `first`.
    pub async fn get_membership(
        &self,
        pers_no: PersNo,
        first: u32,
        count: u32,
        want_read_ranges: bool,
    ) -> Result<Vec<Membership>, Error> {
        self.call(
            call::GET_MEMBERSHIP,
            &[
                pers_no.into(),
                Arg::Int(first),
                Arg::Int(count),
                Arg::Bool(want_read_ranges),
                Arg::Int(0),
            ],
        )
        .await
    }

    /// query-read-texts (call 107): one membership with its read ranges.
    pub async fn query_read_texts(
        &self,
        pers_no: PersNo,
        conf_no: ConfNo,
    ) -> Result<Membership, Error> {
        self.call(
            call::QUERY_READ_TEXTS,
            &[pers_no.into(), conf_no.into(), Arg::Bool(true), Arg::Int(0)],
        )
        .await
    }

    /// mark-as-read (call 27): marks local texts of a conference as read.
    pub async fn mark_as_read(&self, conf_no: ConfNo, local_nos: &[u32]) -> Result<(), Error> {
        let list = local_nos.iter().map(|n| Arg::Int(*n)).collect();
        self.call(call::MARK_AS_READ, &[conf_no.into(), Arg::Array(list)])
            .await
    }

    /// mark-as-unread (call 109).
    pub async fn mark_as_unread(&self, conf_no: ConfNo, local_no: u32) -> Result<(), Error> {
        self.call(call::MARK_AS_UNREAD, &[conf_no.into(), Arg::Int(local_no)])
            .await
    }

    /// set-unread (call 40): leaves the last `count` texts of a conference unread.
    pub async fn set_unread(&self, conf_no: ConfNo, count: u32) -> Result<(), Error> {
        self.call(call::SET_UNREAD, &[conf_no.into(), Arg::Int(count)])
            .await
    }

    /// add-member (call 100).
    pub async fn add_member(
        &self,
        conf_no: ConfNo,
        pers_no: PersNo,
        priority: u32,
        position: u32,
        membership_type: MembershipType,
    ) -> Result<(), Error> {
        self.call(
            call::ADD_MEMBER,
            &[
                conf_no.into(),
                pers_no.into(),
                Arg::Int(priority),
                Arg::Int(position),
                Arg::Bits(membership_type.to_bits()),
            ],
        )
        .await
    }

    /// sub-member (call 15).
    pub async fn sub_member(&self, conf_no: ConfNo, pers_no: PersNo) -> Result<(), Error> {
        self.call(call::SUB_MEMBER, &[conf_no.into(), pers_no.into()])
            .await
    }

    /// mark-text (call 72).
    pub async fn mark_text(&self, text_no: TextNo, mark_type: u32) -> Result<(), Error> {
        self.call(call::MARK_TEXT, &[text_no.into(), Arg::Int(mark_type)])
            .await
    }

    /// unmark-text (call 73).
    pub async fn unmark_text(&self, text_no: TextNo) -> Result<(), Error> {
        self.call(call::UNMARK_TEXT, &[text_no.into()]).await
    }

    /// get-marks (call 23).
    pub async fn get_marks(&self) -> Result<Vec<Mark>, Error> {
        self.call(call::GET_MARKS, &[]).await
    }

    /// get-unread-confs (call 52): conferences where `pers_no` may have unread texts.
    pub async fn get_unread_confs(&self, pers_no: PersNo) -> Result<Vec<ConfNo>, Error> {
        self.call(call::GET_UNREAD_CONFS, &[pers_no.into()]).await
    }

    /// set-passwd (call 8).
    pub async fn set_passwd(&self, pers_no: PersNo, old: &str, new: &str) -> Result<(), Error> {
        self.call(
            call::SET_PASSWD,
            &[pers_no.into(), Arg::latin1(old)?, Arg::latin1(new)?],
        )
        .await
    }

    /// set-presentation (call 16).
    pub async fn set_presentation(
        &self,
        conf_no: impl Into<ConfNo>,
        text_no: TextNo,
    ) -> Result<(), Error> {
        self.call(
            call::SET_PRESENTATION,
            &[conf_no.into().into(), text_no.into()],
        )
        .await
    }
}
