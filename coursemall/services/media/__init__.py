"""Use-cases of media processing: encrypted HLS and preview clips, resumable uploads."""
