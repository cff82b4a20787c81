"""What markets are: assets and ids, records, calendars and hours, symbol lists, settings, words and formats.
Imports no other layer of the app."""
