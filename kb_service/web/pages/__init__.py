"""HTML pages for staff and residents, notices, the community pages, site search and the live preview."""
