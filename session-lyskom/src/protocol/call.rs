//! Call numbers of the requests the client makes.

/// logout (call 1)
pub const LOGOUT: u32 = 1;
/// change-conference (call 2)
pub const CHANGE_CONFERENCE: u32 = 2;
/// set-passwd (call 8)
pub const SET_PASSWD: u32 = 8;
/// sub-member (call 15)
pub const SUB_MEMBER: u32 = 15;
/// set-presentation (call 16)
pub const SET_PRESENTATION: u32 = 16;
/// get-marks (call 23)
pub const GET_MARKS: u32 = 23;
/// get-text (call 25)
pub const GET_TEXT: u32 = 25;
/// mark-as-read (call 27)
pub const MARK_AS_READ: u32 = 27;
/// get-time (call 35)
pub const GET_TIME: u32 = 35;
/// set-unread (call 40)
pub const SET_UNREAD: u32 = 40;
/// enable (call 42)
pub const ENABLE: u32 = 42;
/// get-person-stat (call 49)
pub const GET_PERSON_STAT: u32 = 49;
/// get-unread-confs (call 52)
pub const GET_UNREAD_CONFS: u32 = 52;
/// disconnect (call 55)
pub const DISCONNECT: u32 = 55;
/// who-am-i (call 56)
pub const WHO_AM_I: u32 = 56;
/// login (call 62)
pub const LOGIN: u32 = 62;
/// set-client-version (call 69)
pub const SET_CLIENT_VERSION: u32 = 69;
/// mark-text (call 72)
pub const MARK_TEXT: u32 = 72;
/// unmark-text (call 73)
pub const UNMARK_TEXT: u32 = 73;
/// lookup-z-name (call 76)
pub const LOOKUP_Z_NAME: u32 = 76;
/// get-uconf-stat (call 78)
pub const GET_UCONF_STAT: u32 = 78;
/// accept-async (call 80)
pub const ACCEPT_ASYNC: u32 = 80;
/// user-active (call 82)
pub const USER_ACTIVE: u32 = 82;
/// create-text (call 86)
pub const CREATE_TEXT: u32 = 86;
/// create-conf (call 88)
pub const CREATE_CONF: u32 = 88;
/// create-person (call 89)
pub const CREATE_PERSON: u32 = 89;
/// get-text-stat (call 90)
pub const GET_TEXT_STAT: u32 = 90;
/// get-conf-stat (call 91)
pub const GET_CONF_STAT: u32 = 91;
/// get-info (call 94)
pub const GET_INFO: u32 = 94;
/// add-member (call 100)
pub const ADD_MEMBER: u32 = 100;
/// local-to-global (call 103)
pub const LOCAL_TO_GLOBAL: u32 = 103;
/// local-to-global-reverse (call 121)
pub const LOCAL_TO_GLOBAL_REVERSE: u32 = 121;
/// query-read-texts (call 107)
pub const QUERY_READ_TEXTS: u32 = 107;
/// get-membership (call 108)
pub const GET_MEMBERSHIP: u32 = 108;
/// mark-as-unread (call 109)
pub const MARK_AS_UNREAD: u32 = 109;
