"""AIB JSON in and out: `render` (spec -> the template the service takes) and `import_arm` (the reverse)."""
