"""CourseMall: a self-hosted paid-course shop in pure Python (Reflex)."""
