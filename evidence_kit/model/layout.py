"""The names a case folder and a package use: plain constants, importable without the models (so the CLI's
``--help`` and ``init`` start fast)."""
from __future__ import annotations

CASE_FILE = "case.toml"
PACKAGE_DIR = "evidence-package"
DEFAULT_PROFILE = "aliexpress"

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".heic", ".heif", ".hif", ".avif",
                            ".tif", ".tiff", ".bmp", ".gif", ".mpo"})
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".3gp", ".mts", ".m2ts"})
TRACKING_SUFFIXES = frozenset({".html", ".htm", ".csv", ".json"})
RECEIPT_SUFFIXES = frozenset({".pdf"})

# Media kind -> the subfolder that holds it. Loose files at the case root are sorted by suffix.
SUBFOLDERS = {"photos": "photos", "videos": "video", "chat": "chat", "tracking": "tracking",
              "receipts": "receipts"}
