package api

import (
	"net/http"
	"strconv"

	"github.com/onramp/onramp"
)

// MemberList is a project's owner and members.
type MemberList struct {
	Members []onramp.Member `json:"members"`
}

// PromotionList is an audit trail of promotions and rollbacks, newest first.
type PromotionList struct {
	Promotions []*onramp.Promotion `json:"promotions"`
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) {
	ms, err := s.Team.Members(r.Context(), owner(r), r.PathValue("name"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.JSON(w, r, http.StatusOK, MemberList{Members: ms})
}

func (s *Server) setMember(w http.ResponseWriter, r *http.Request) {
	var c onramp.MemberChange
	if err := decode(w, r, &c); err != nil {
		s.Error(w, r, err)
		return
	}
	m, err := s.Team.SetMember(r.Context(), owner(r), r.PathValue("name"), c)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.logger(r).Info("member set", "project", r.PathValue("name"), "member", m.User, "role", m.Role)
	s.JSON(w, r, http.StatusOK, m)
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) {
	if err := s.Team.RemoveMember(r.Context(), owner(r), r.PathValue("name"), r.PathValue("user")); err != nil {
		s.Error(w, r, err)
		return
	}
	s.logger(r).Info("member removed", "project", r.PathValue("name"), "member", r.PathValue("user"))
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) promote(w http.ResponseWriter, r *http.Request) {
	s.requestPromotion(w, r, false)
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request) {
	s.requestPromotion(w, r, true)
}

func (s *Server) requestPromotion(w http.ResponseWriter, r *http.Request, rollback bool) {
	var req onramp.PromotionRequest
	if err := decode(w, r, &req); err != nil {
		s.Error(w, r, err)
		return
	}
	req.Rollback = rollback
	p, err := s.Team.RequestPromotion(r.Context(), owner(r), r.PathValue("name"), req)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.logger(r).Info(p.Kind+" requested", "project", p.Project, "environment", p.Environment, "revision", p.Revision, "promotion", p.ID, "status", p.Status)
	w.Header().Set("Location", "/api/v1/projects/"+p.Project+"/promotions/"+strconv.FormatInt(p.ID, 10))
	s.JSON(w, r, http.StatusAccepted, p)
}

func (s *Server) approve(w http.ResponseWriter, r *http.Request) {
	id, ok := s.promotionID(w, r)
	if !ok {
		return
	}
	p, err := s.Team.Approve(r.Context(), owner(r), r.PathValue("name"), id)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.logger(r).Info("promotion approved", "project", p.Project, "promotion", p.ID, "status", p.Status)
	s.JSON(w, r, http.StatusOK, p)
}

func (s *Server) listPromotions(w http.ResponseWriter, r *http.Request) {
	ps, err := s.Team.Promotions(r.Context(), owner(r), r.PathValue("name"), r.URL.Query().Get("environment"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	if ps == nil {
		ps = []*onramp.Promotion{}
	}
	s.JSON(w, r, http.StatusOK, PromotionList{Promotions: ps})
}

func (s *Server) getPromotion(w http.ResponseWriter, r *http.Request) {
	id, ok := s.promotionID(w, r)
	if !ok {
		return
	}
	p, err := s.Team.FindPromotion(r.Context(), owner(r), r.PathValue("name"), id)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.JSON(w, r, http.StatusOK, p)
}

func (s *Server) promotionID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		s.Error(w, r, onramp.Errorf(onramp.ENOTFOUND, "no promotion %q: promotion IDs are whole numbers (`onramp project history NAME --env ENV` lists them)", r.PathValue("id")))
		return 0, false
	}
	return id, true
}
