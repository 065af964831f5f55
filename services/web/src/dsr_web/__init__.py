"""The register in a browser: server-rendered NHS.UK pages over the four
services' APIs, called on the signed-in user's behalf with their register
access token. Owns no register data."""
