"""物业沟通知识库 service: handbook site, script search, template filling, feedback."""

__version__ = "0.1.0"
