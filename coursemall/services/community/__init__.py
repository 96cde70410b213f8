"""Use-cases of community: comments, reviews and the message centre."""
