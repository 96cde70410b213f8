"""States of the catalogue: what the storefront shows, course authoring, instructors."""
