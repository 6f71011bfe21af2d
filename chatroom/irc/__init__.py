"""The IRC listener's protocol without I/O (issue #12): messages, and a codec that speaks hub requests.

It may import base, protocol, hub (the message types it encodes) and codecs
(the requests and the Codec interface it implements), like codecs/ itself;
the router never learns IRC.
"""
