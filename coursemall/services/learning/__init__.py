"""Use-cases of learning: the player, progress, who may play what, notes, certificates, check-ins, homework."""
