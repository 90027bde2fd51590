"""The parts of :class:`voicebot.sip.useragent.UserAgentCore`, one module per concern (RFC 3261
INVITE client and server, BYE/CANCEL, REGISTER, RFC 3262 PRACK, RFC 3515 REFER, RFC 4028
session timers, digest retry, admission and defence), and the call state table."""
