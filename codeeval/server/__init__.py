"""The reward server (codeeval serve): FastAPI app, schemas, SandboxFusion compatibility."""
