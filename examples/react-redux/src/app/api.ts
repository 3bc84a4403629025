// The app's own HTTP client. cleanexit adds the bearer (to this API only), refreshes once on an
// expired token and retries, and starts the logout when the session was ended elsewhere.
import axios from 'axios';
import { API_BASE, cleanexit } from './store';

export const api = axios.create({ baseURL: API_BASE || '/' });
cleanexit.axios(api);

export interface Me {
  sub: string;
  session_id: string;
  exp: number;
}

export const getMe = async (): Promise<Me> => (await api.get<Me>('/me')).data;
