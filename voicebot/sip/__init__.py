"""SIP signalling (RFC 3261 and extensions), I/O-free.

Message layer: ``uri`` (URIs, name-addr), ``headers`` (Headers, Via, CSeq), ``message``
(parse/serialise, stream framing, responses), ``validate`` (UAS request checks), ``sdp``
(RFC 4566 / RFC 3264 offer/answer) and ``auth`` (RFC 7616 digest).
"""
