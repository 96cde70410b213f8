"""States of community: comments, reviews and the message centre."""
