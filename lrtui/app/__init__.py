"""The Textual app: screens, widgets, messages. Gets its engine and store injected."""
