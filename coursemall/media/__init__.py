"""Media: image processing for uploads (Pillow), public/private storage helpers."""
