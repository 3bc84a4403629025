export { CleanexitProvider, type CleanexitProviderProps } from './CleanexitProvider.js';
export { type CleanexitContextValue, useCleanexit } from './context.js';
export { type AuthView, type LogoutControl, useAuth, useLogout } from './hooks.js';
export { LogoutButton, type LogoutButtonProps } from './LogoutButton.js';
export { RequireAuth, type RequireAuthProps } from './RequireAuth.js';
