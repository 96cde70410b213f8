"""Pages of learning: the player, progress, who may play what, notes, certificates, check-ins, homework."""

from coursemall.pages.learning import certificate, checkin, homework, learning, lesson  # noqa: F401
